// 吉惠通: small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Ask before destructive actions: <form data-confirm="...">.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // Show a block only while its checkbox is ticked: <fieldset data-toggle-by="checkbox-id">.
  document.querySelectorAll("[data-toggle-by]").forEach(function (block) {
    var box = document.getElementById(block.getAttribute("data-toggle-by"));
    if (!box) { return; }
    var sync = function () { block.classList.toggle("is-hidden", !box.checked); };
    box.addEventListener("change", sync);
    sync();
  });

  // Registration: the USCC field for businesses, the ID number for farmers.
  var kind = document.getElementById("kind");
  var business = document.getElementById("uscc-field");
  var farmer = document.getElementById("id_number-field");
  if (kind && business && farmer) {
    var syncKind = function () {
      business.classList.toggle("is-hidden", kind.value === "farmer");
      farmer.classList.toggle("is-hidden", kind.value !== "farmer");
    };
    kind.addEventListener("change", syncKind);
    syncKind();
  }

  // A bridge's days-left clock keeps counting on a page left open (the day changes in Asia/Shanghai):
  // <span data-due="YYYY-MM-DD" data-text-left="剩余N天" data-text-late="已逾期N天">.
  document.querySelectorAll("[data-due]").forEach(function (clock) {
    var tick = function () {
      var today = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
      var days = Math.round((Date.parse(clock.getAttribute("data-due")) - Date.parse(today)) / 86400000);
      if (isNaN(days)) { return; }
      var late = days < 0;
      var text = clock.getAttribute(late ? "data-text-late" : "data-text-left") || "";
      clock.textContent = text.replace("N", String(Math.abs(days)));
      var box = clock.closest(".kpi");
      if (box) { box.classList.toggle("overdue", late); }
    };
    tick();
    window.setInterval(tick, 60000);
  });
})();
