// mcpgram /setup: copy buttons and the QR page's polling. The pages work without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button.copy").forEach(function (button) {
    var field = document.getElementById(button.dataset.copy);
    if (!field || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      });
    });
  });
  var poll = document.querySelector("form[data-poll]");
  if (poll) {
    setTimeout(function () { poll.submit(); }, Number(poll.dataset.poll) || 3000);
  }
});
