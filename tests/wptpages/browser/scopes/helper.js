// Loaded by the META script line of scopes.any.js, before the test.
self.helperLoaded = "helper loaded";
