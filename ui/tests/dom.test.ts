import { describe, expect, it } from "vitest";
import { h, keyed } from "../src/dom";

type Row = { id: string; text: string };

/** Draws rows keyed by id, signed by their text; counts the draws. */
function list() {
  const parent = h("ol");
  let draws = 0;
  const update = (rows: Row[]) =>
    keyed(
      parent,
      rows,
      (r) => r.id,
      (r) => r.text,
      (r) => {
        draws++;
        return h("li", { "data-id": r.id }, r.text);
      },
    );
  return { parent, update, draws: () => draws };
}

const ids = (parent: Element) => [...parent.children].map((c) => c.getAttribute("data-id"));
const rows = (...specs: string[]): Row[] => specs.map((s) => ({ id: s[0], text: s }));

describe("keyed", () => {
  it("draws every child the first time, in the items' order", () => {
    const l = list();
    const els = l.update(rows("a1", "b1", "c1"));
    expect(ids(l.parent)).toEqual(["a", "b", "c"]);
    expect(els).toEqual([...l.parent.children]);
    expect(l.draws()).toBe(3);
  });

  it("keeps a child whose signature did not change: the same node, not drawn again", () => {
    const l = list();
    const [a, b, c] = l.update(rows("a1", "b1", "c1"));
    const again = l.update(rows("a1", "b1", "c1"));
    expect(again[0]).toBe(a);
    expect(again[1]).toBe(b);
    expect(again[2]).toBe(c);
    expect(l.draws()).toBe(3);
  });

  it("replaces a child whose signature changed, in its place", () => {
    const l = list();
    const [a, b, c] = l.update(rows("a1", "b1", "c1"));
    const [a2, b2, c2] = l.update(rows("a1", "b2", "c1"));
    expect(a2).toBe(a);
    expect(c2).toBe(c);
    expect(b2).not.toBe(b);
    expect(b.isConnected).toBe(false);
    expect(b2.textContent).toBe("b2");
    expect(ids(l.parent)).toEqual(["a", "b", "c"]);
    expect(l.draws()).toBe(4);
  });

  it("follows the items' order, keeping the nodes it moves", () => {
    const l = list();
    const [a, b, c] = l.update(rows("a1", "b1", "c1"));
    const out = l.update(rows("c1", "a1", "d1", "b1"));
    expect(ids(l.parent)).toEqual(["c", "a", "d", "b"]);
    expect(out[0]).toBe(c);
    expect(out[1]).toBe(a);
    expect(out[3]).toBe(b);
    expect(l.draws()).toBe(4);
  });

  it("drops the children of keys no longer listed", () => {
    const l = list();
    const [a, b, c] = l.update(rows("a1", "b1", "c1"));
    l.update(rows("a1", "c1"));
    expect(ids(l.parent)).toEqual(["a", "c"]);
    expect(b.isConnected).toBe(false);
    expect(l.parent.children[0]).toBe(a);
    expect(l.parent.children[1]).toBe(c);
    l.update([]);
    expect(l.parent.childNodes.length).toBe(0);
  });

  it("moves no kept child when others around it go or come", async () => {
    const l = list();
    const [, b] = l.update(rows("a1", "b1", "c1"));
    const moved: Node[] = [];
    const watch = new MutationObserver((records) => records.forEach((r) => moved.push(...r.removedNodes)));
    watch.observe(l.parent, { childList: true });
    l.update(rows("b1", "x1", "c2"));
    await Promise.resolve();
    watch.disconnect();
    expect(ids(l.parent)).toEqual(["b", "x", "c"]);
    expect(l.parent.children[0]).toBe(b);
    expect(moved).not.toContain(b);
  });

  it("keeps focus in a kept child", () => {
    const parent = h("div");
    document.body.append(parent);
    const draw = (k: string) => h("button", { id: `btn-${k}` }, k);
    keyed(parent, ["a", "b"], (k) => k, () => "1", draw);
    const b = document.getElementById("btn-b")!;
    b.focus();
    keyed(parent, ["z", "a", "b"], (k) => k, (k) => (k === "a" ? "2" : "1"), draw);
    expect(document.getElementById("btn-b")).toBe(b);
    expect(document.activeElement).toBe(b);
    parent.remove();
  });

  it("removes children it did not draw, and draws a repeated key afresh", () => {
    const l = list();
    l.parent.append(h("li", { "data-id": "stray" }), document.createTextNode("text"));
    l.update(rows("a1"));
    expect(ids(l.parent)).toEqual(["a"]);
    expect(l.parent.childNodes.length).toBe(1);
    const [a, a2] = l.update(rows("a1", "a1"));
    expect(a).not.toBe(a2);
    expect(ids(l.parent)).toEqual(["a", "a"]);
    l.update(rows("a1"));
    expect(ids(l.parent)).toEqual(["a"]);
    expect(l.parent.children[0]).toBe(a);
  });
});
