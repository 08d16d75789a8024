// The browser side of algobot.preferences.PreferenceWidget (an anywidget front-end). Hand-written source file:
// nbdev-export does not generate it; nbs/10_preferences.ipynb describes it and tests/test_widget_browser.py drives it.
function div(cls) { const d = document.createElement("div"); d.className = cls; return d; }

function render({ model, el }) {
  const root = div("algobot-pref");
  root.tabIndex = 0;                       // the widget itself takes the keyboard focus (clicks move it here)
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", "preference labeller");
  const head = div("algobot-pref-progress"), figure = div("algobot-pref-figure"), bar = div("algobot-pref-buttons"),
        status = div("algobot-pref-status"), hint = div("algobot-pref-hint");
  root.append(head, figure, bar, status, hint);
  el.append(root);

  let shown = -1;     // index of the pair whose chart is on screen (-1: none): every answer carries it
  let sent = false;   // an answer for `shown` is on its way to the kernel: buttons and keys wait for the next pair
  let drawing = 0;
  const keys = {}, buttons = [];
  for (const [choice, label, key] of model.get("buttons")) {
    const b = document.createElement("button");
    b.className = "jupyter-widgets jupyter-button widget-button algobot-pref-button";
    b.textContent = label; b.title = `key ${key}`; b.tabIndex = -1; b.dataset.choice = choice; b.disabled = true;
    b.addEventListener("click", (e) => { if (e.detail <= 1) answer(choice, "click"); });  // a double click's 2nd: no
    keys[key] = choice; buttons.push(b); bar.append(b);
  }

  function sync() {
    const finished = model.get("finished"), ready = shown >= 0 && !sent && !finished;
    for (const b of buttons) b.disabled = !ready;
    root.dataset.state = finished ? "done" : (ready ? "ready" : "busy");
    root.dataset.index = String(shown);
  }
  function answer(choice, source) {
    if (shown < 0 || sent || model.get("finished")) return;
    sent = true; sync();
    model.send({ type: "answer", choice, index: shown, source });
  }
  function hintText() {
    if (model.get("finished")) return "";
    return root.matches(":focus-within") ? "Keys a / s / d / x answer the pair above (the labeller has the keyboard)."
                                         : "Click the chart or a button, then keys a / s / d / x answer too.";
  }
  async function draw() {
    const mine = ++drawing;
    head.textContent = model.get("progress");
    if (model.get("finished")) {         // clear the last pair: only the summary stays
      shown = -1; sent = false;
      figure.replaceChildren(); bar.replaceChildren();
      status.className = "algobot-pref-status"; status.textContent = model.get("message");
      hint.textContent = ""; sync(); return;
    }
    const src = model.get("image"), index = model.get("index");
    let content = div("algobot-pref-caption");
    content.textContent = model.get("caption");
    if (src) {
      const img = new Image();
      img.alt = model.get("caption"); img.src = src;
      try { await img.decode(); } catch (e) {}
      content = img;
    }
    if (mine !== drawing) return;       // a newer pair arrived meanwhile
    figure.replaceChildren(content);
    shown = index; sent = false;        // only now is this pair on screen
    status.className = "algobot-pref-status"; status.textContent = model.get("message");
    hint.textContent = hintText(); sync();
  }

  root.addEventListener("mousedown", (e) => {   // a click anywhere in the widget gives it the keyboard
    if (e.button !== 0) return;
    e.preventDefault();
    root.focus({ preventScroll: true });
  });
  root.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.key.length !== 1) return;  // Shift+Enter, Esc, Ctrl+S...: JupyterLab's
    e.preventDefault(); e.stopPropagation();   // a plain key never reaches JupyterLab's shortcuts (x, d d, a, b, m ...)
    const choice = keys[e.key.toLowerCase()];
    if (choice && !e.repeat) answer(choice, "key");
  });
  root.addEventListener("focusin", () => { hint.textContent = hintText(); });
  root.addEventListener("focusout", () => { hint.textContent = hintText(); });
  model.on("msg:custom", (msg) => {            // the kernel refused an answer (e.g. it could not be stored)
    if (msg.type !== "rejected" || model.get("finished")) return;
    if (msg.index === shown) sent = false;
    status.className = "algobot-pref-status" + (msg.error ? " algobot-pref-error" : "");
    status.textContent = msg.error || "";
    sync();
  });
  model.on("change:index", draw); model.on("change:image", draw); model.on("change:finished", draw);
  model.on("change:progress", () => { head.textContent = model.get("progress"); });
  draw();
}
export default { render };
