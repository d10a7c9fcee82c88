/* nkpipe review desk: one keystroke per decision on the review queue and item pages.
 *
 * Every key presses a link or button the page already shows (marked data-shortcut, or
 * data-sector-keys / data-sector-save for the sector keys), so the server receives exactly the
 * CSRF-protected form a mouse user sends, and the pages work the same without this script.
 * Served from /static: the Content-Security-Policy allows scripts from this site only.
 *
 * Queue page: j/k move the selection, the other keys act on the selected item.
 * Item page:  j/k follow the previous/next links, the other keys act on the page.
 */
(function () {
  "use strict";

  var items = Array.prototype.slice.call(document.querySelectorAll("li.item"));
  var selected = null;
  var submitting = false; // a form is on its way: further keys would decide twice

  function typing(element) {
    return Boolean(element) && (element.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(element.tagName));
  }

  function select(item) {
    if (!item) {
      return false;
    }
    if (selected) {
      selected.classList.remove("selected");
      selected.removeAttribute("aria-current");
    }
    selected = item;
    item.classList.add("selected");
    item.setAttribute("aria-current", "true");
    item.scrollIntoView({block: "nearest"});
    return true;
  }

  function within(selector) {
    var scope = selected || document.querySelector("main");
    return scope ? scope.querySelector(selector) : null;
  }

  // A link is followed, a button clicked (submitting its form, its own name and value included),
  // a field focused.
  function press(element, suffix) {
    if (!element) {
      return false;
    }
    if (element.tagName === "A") {
      submitting = true;
      window.location.assign(element.href + (suffix || ""));
    } else if (element.tagName === "BUTTON") {
      element.click();
    } else {
      element.focus();
    }
    return true;
  }

  function move(step) {
    if (!items.length) {
      return press(within(step > 0 ? "[data-shortcut=j]" : "[data-shortcut=k]"));
    }
    var index = items.indexOf(selected) + step;
    if (index < 0 || index >= items.length) {  // past this page: the pager's link, when there is one
      return press(document.querySelector(step > 0 ? "nav.pager a[rel=next]" : "nav.pager a[rel=prev]"));
    }
    return select(items[index]);
  }

  function setSector(number) {
    var choice = within("select[data-sector-keys]");
    if (!choice || number > choice.options.length) {
      return false;
    }
    choice.selectedIndex = number - 1;
    return press(choice.form.querySelector("[data-sector-save]"));
  }

  function toggleTick() {
    var box = selected && selected.querySelector("input[type=checkbox]");
    if (box) {
      box.checked = !box.checked;
    }
    return Boolean(box);
  }

  function act(event) {
    var key = event.key;
    if (key === "j" || key === "k") {
      return move(key === "j" ? 1 : -1);
    }
    if (key === "c" || key === "x") {
      return press(within("[data-shortcut=" + key + "]"));
    }
    if (key === "e") {  // from the queue: the item page, with its edit form focused
      return press(within("[data-shortcut=e]"), items.length ? "#edit" : "");
    }
    if (items.length && (key === "o" || (key === "Enter" && event.target === document.body))) {
      return press(within("[data-shortcut=e]"));
    }
    if (items.length && key === "s") {
      return toggleTick();
    }
    if (/^[1-9]$/.test(key)) {
      return setSector(Number(key));
    }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    var help = document.getElementById("shortcut-help");
    if (event.key === "Escape") {
      if (help && help.open) {
        help.open = false;
      } else if (typing(event.target)) {
        event.target.blur();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing || typing(event.target)) {
      return;
    }
    if (event.key === "?") {
      if (help) {
        help.open = !help.open;
      }
      event.preventDefault();
      return;
    }
    if (submitting || act(event)) {
      event.preventDefault();
    }
  });

  document.addEventListener("submit", function () {
    submitting = true;
  });

  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {  // back from the next page: this one may decide again
      submitting = false;
    }
  });

  document.addEventListener("click", function (event) {
    var item = event.target.closest && event.target.closest("li.item");
    if (item) {
      select(item);
    }
  });

  if (items.length) {
    var asked = /^#item-(\d+)$/.exec(window.location.hash);  // where a decision on the queue left off
    var index = asked ? Math.min(Number(asked[1]), items.length) - 1 : 0;
    select(items[Math.max(index, 0)]);
  } else if (window.location.hash === "#edit") {
    press(document.querySelector("[data-shortcut=e]"));
  }
}());
