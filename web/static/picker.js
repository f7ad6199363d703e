/* Searchable picker over a <select multiple data-picker>: progressive enhancement.
   Without this script the page keeps the plain multi-select. With it, the select stays in the
   form (it is what is submitted) but is drawn as a search box, a short filtered list of
   checkboxes and the chosen items as removable chips - usable with a thumb on a phone. */
(function () {
  "use strict";

  function text(option) { return option.textContent.trim(); }

  function enhance(select) {
    var max = parseInt(select.getAttribute("data-picker-max") || "0", 10);
    var wrap = document.createElement("div");
    wrap.className = "picker";
    var chips = document.createElement("div");
    chips.className = "picker-chips";
    chips.setAttribute("aria-live", "polite");
    var search = document.createElement("input");
    search.type = "search";
    search.className = "picker-search";
    search.placeholder = select.getAttribute("data-picker-placeholder") || "";
    search.setAttribute("aria-label", search.placeholder);
    search.autocomplete = "off";
    var list = document.createElement("ul");
    list.className = "picker-list";
    var full = document.createElement("p");
    full.className = "picker-full hint small";
    full.textContent = select.getAttribute("data-picker-full") || "";
    wrap.appendChild(chips);
    wrap.appendChild(search);
    wrap.appendChild(list);
    wrap.appendChild(full);
    select.parentNode.insertBefore(wrap, select.nextSibling);
    select.classList.add("picker-source");
    select.setAttribute("tabindex", "-1");
    var field = select.closest(".field");
    var hint = field && field.querySelector("p.hint:not(.picker-full)");
    if (hint && select.getAttribute("data-picker-hint")) { hint.textContent = select.getAttribute("data-picker-hint"); }

    var boxes = [];
    Array.prototype.forEach.call(select.options, function (option) {
      var item = document.createElement("li");
      var label = document.createElement("label");
      var box = document.createElement("input");
      box.type = "checkbox";
      box.addEventListener("change", function () {
        option.selected = box.checked;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      });
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + text(option)));
      item.appendChild(label);
      list.appendChild(item);
      boxes.push({ option: option, box: box, item: item, key: text(option).toLowerCase() });
    });

    function render() {
      var chosen = boxes.filter(function (b) { return b.option.selected; });
      chips.textContent = "";
      chosen.forEach(function (b) {
        var chip = document.createElement("button");
        chip.type = "button";
        chip.className = "picker-chip";
        chip.textContent = text(b.option) + " ×";
        chip.addEventListener("click", function () {
          b.option.selected = false;
          select.dispatchEvent(new Event("change", { bubbles: true }));
        });
        chips.appendChild(chip);
      });
      var atMax = max > 0 && chosen.length >= max;
      var query = search.value.trim().toLowerCase();
      boxes.forEach(function (b) {
        b.box.checked = b.option.selected;
        b.box.disabled = atMax && !b.option.selected;
        b.item.hidden = query !== "" && b.key.indexOf(query) === -1;
      });
      full.hidden = !atMax;
    }

    select.addEventListener("change", render);
    search.addEventListener("input", render);
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }  // Enter filters; it never submits the form
    });
    render();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("select[multiple][data-picker]"), enhance);
  });
})();
