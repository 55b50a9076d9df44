// A tiny element builder, h("div", {class: "x"}, child, "text"), and
// keyed(): one parent's children brought in line with a list, by key.
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

/** What keyed() drew each child for: its key and its signature. */
const drawn = new WeakMap<Node, { key: string; sig: string }>();

/**
 * Brings `parent`'s children in line with `items`, one child per item, in
 * the items' order. A child is known by its key; one whose signature is the
 * same as when it was drawn is kept as it is (the same node, never redrawn
 * under the member's pointer or fingers, and not moved unless the order
 * changed); the others are drawn again by `render` and put in their place.
 * Children of keys no longer listed, and any child keyed() did not draw,
 * are removed. Keys should be unique: a repeated key is drawn afresh.
 * Returns the children in the items' order.
 */
export function keyed<T, E extends Element = HTMLElement>(
  parent: Element,
  items: readonly T[],
  key: (item: T, index: number) => string,
  sig: (item: T, index: number) => string,
  render: (item: T, index: number) => E,
): E[] {
  const had = new Map<string, Element>();
  for (const child of [...parent.childNodes]) {
    const k = drawn.get(child)?.key;
    if (k === undefined || had.has(k)) child.remove();
    else had.set(k, child as Element);
  }
  // Which children stay: drop the rest first, so that the ones kept need not move.
  const wanted = items.map((item, i) => ({ item, i, key: key(item, i), sig: sig(item, i) }));
  const kept = new Map<string, Element>();
  for (const w of wanted) {
    const el = had.get(w.key);
    if (el && !kept.has(w.key) && drawn.get(el)?.sig === w.sig) kept.set(w.key, el);
  }
  for (const [k, el] of had) if (kept.get(k) !== el) el.remove();
  let at: ChildNode | null = parent.firstChild;
  return wanted.map((w) => {
    let el = kept.get(w.key);
    kept.delete(w.key);
    if (!el) {
      el = render(w.item, w.i);
      drawn.set(el, { key: w.key, sig: w.sig });
    }
    if (el === at) at = at.nextSibling;
    else parent.insertBefore(el, at);
    return el as E;
  });
}
