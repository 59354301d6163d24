// META: title=Generated pages run the test in each scope
// META: global=window,worker
// META: script=helper.js
// META: timeout=long

test(() => {
  assert_equals(self.helperLoaded, "helper loaded");
}, "the META script ran before the test");

test(() => {
  const inWindow = typeof WorkerGlobalScope === "undefined";
  assert_equals(GLOBAL.isWindow(), inWindow);
  assert_equals(GLOBAL.isWorker(), !inWindow);
}, "self.GLOBAL names the scope");

test(() => {
  assert_equals(location.search, "?variant=1");
}, "the page's query reached the scope");

promise_test(async () => {
  const response = await fetch("echo.py?v=fetched");
  assert_equals(await response.text(), "fetched");
}, "a handler answers a fetch from the scope");
