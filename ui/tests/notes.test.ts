import { describe, expect, it, vi } from "vitest";
import { clock, notesNodes, safeHref } from "../src/notes";

function render(html: string | null, text: string | null = null) {
  const actions = { seek: vi.fn(), link: vi.fn() };
  const box = document.createElement("div");
  box.append(...notesNodes(html, text, actions));
  return { box, actions };
}

describe("show notes", () => {
  it("keeps structure and links from the sanitiser's HTML, and nothing else", () => {
    const { box, actions } = render(
      '<p>Hello <b>there</b> <a href="https://example.com/x" onclick="steal()">the notes</a></p>' +
        '<ul><li>one</li><li>two</li></ul><script>alert(1)</script><img src="https://tracker.example/p.gif">' +
        '<p style="color:red" class="x"><a href="javascript:alert(1)">bad</a> <a href="file:///etc/passwd">file</a></p>',
    );
    expect(box.querySelectorAll("p").length).toBe(2);
    expect(box.querySelectorAll("li").length).toBe(2);
    expect(box.querySelector("b")?.textContent).toBe("there");
    expect(box.querySelector("script")).toBeNull();
    expect(box.querySelector("img")).toBeNull();
    expect(box.innerHTML).not.toContain("onclick");
    expect(box.innerHTML).not.toContain("style");
    expect(box.innerHTML).not.toContain("javascript:");
    expect(box.innerHTML).not.toContain("tracker.example");
    const links = box.querySelectorAll("a.note-link");
    expect(links.length).toBe(1);
    expect((links[0] as HTMLElement).dataset.href).toBe("https://example.com/x");
    expect(box.textContent).toContain("bad file"); // their text stays, not as links
    (links[0] as HTMLElement).click();
    expect(actions.link).toHaveBeenCalledWith("https://example.com/x");
  });

  it("turns times into seek buttons and addresses into links, in HTML and in text", () => {
    const { box, actions } = render("<p>At 1:02 and 1:02:03, see https://example.com/a.</p>");
    const seeks = [...box.querySelectorAll("button.timestamp")] as HTMLElement[];
    expect(seeks.map((b) => b.dataset.seek)).toEqual(["62", "3723"]);
    seeks[1].click();
    expect(actions.seek).toHaveBeenCalledWith(3723);
    const link = box.querySelector("a.note-link") as HTMLElement;
    expect(link.dataset.href).toBe("https://example.com/a"); // the full stop is not part of it
    const t = render(null, "First paragraph.\n\nSecond at 12:34 with http://a.example/b");
    expect(t.box.querySelectorAll("p").length).toBe(2);
    expect((t.box.querySelector("button.timestamp") as HTMLElement).dataset.seek).toBe("754");
    expect((t.box.querySelector("a.note-link") as HTMLElement).dataset.href).toBe("http://a.example/b");
  });

  it("reads times and checks addresses strictly", () => {
    expect(clock("12:34")).toBe(754);
    expect(clock("1:02:03")).toBe(3723);
    expect(clock("1:75")).toBeNull();
    expect(clock("12")).toBeNull();
    expect(safeHref("https://x.example/p?q=1")).toBe("https://x.example/p?q=1");
    expect(safeHref("mailto:coach@example.com")).toBe("mailto:coach@example.com");
    for (const bad of ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "smb://h/s", "https://", "", null]) {
      expect(safeHref(bad)).toBeNull();
    }
    expect(safeHref(`https://x.example/${"a".repeat(2001)}`)).toBeNull();
  });

  it("builds a bounded number of nodes from a hostile feed", () => {
    const { box } = render("<p>" + "<b>x</b>".repeat(20_000) + "</p>");
    expect(box.querySelectorAll("b").length).toBeLessThan(6000);
    const times = render(null, "1:00 ".repeat(40_000));
    expect(times.box.querySelectorAll("button.timestamp").length).toBeLessThanOrEqual(5000);
    expect(times.box.textContent?.length).toBe("1:00 ".repeat(40_000).trim().length); // the rest stays text
  });
});
