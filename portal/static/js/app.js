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
})();
