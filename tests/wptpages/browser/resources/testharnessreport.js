/*
 * The test suite's own testharnessreport.js (web-platform-tests leaves this
 * file to each runner to provide): when the harness completes, the page
 * gets a <pre id="results"> holding the harness status and every subtest's
 * name, status and message as JSON, which the test reads from the DOM that
 * headless Chromium dumps.
 */
add_completion_callback(function(tests, harnessStatus) {
  var results = document.createElement("pre");
  results.id = "harness-results";
  results.textContent = JSON.stringify({
    status: harnessStatus.status,
    message: harnessStatus.message,
    tests: tests.map(function(test) {
      return {name: test.name, status: test.status, message: test.message};
    }),
  });
  document.body.appendChild(results);
});
