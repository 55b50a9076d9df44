// Show notes as elements the page builds itself. A feed's notes arrive as
// the sanitiser's HTML (Rust, ammonia); they are parsed into an inert
// document (DOMParser: no script runs, no image loads) and copied over a
// whitelist, tag by tag, into new elements: nothing from the feed is ever
// assigned as innerHTML, no attribute but a checked link's address is
// kept. Plain-text notes (a catalog's) become paragraphs. In both, web
// addresses become links and times ("12:34", "1:02:03") become buttons
// that seek. A link opens only through `actions.link`, which shows the
// member where it goes first.
import { h } from "./dom";

export interface NoteActions {
  seek(seconds: number): void;
  link(url: string): void;
}

/** Elements kept (everything else: its text only). */
const BLOCKS = new Set(["P", "UL", "OL", "LI", "BLOCKQUOTE", "PRE"]);
const INLINE = new Set(["STRONG", "B", "EM", "I", "CODE"]);
const HEADINGS = new Set(["H1", "H2", "H3", "H4", "H5", "H6"]);
/** Elements whose content is never text to show. */
const DROPPED = new Set(["SCRIPT", "STYLE", "TEMPLATE", "IFRAME", "OBJECT", "EMBED", "SVG", "MATH", "NOSCRIPT", "HEAD", "TITLE"]);

/** At most this many nodes are built (a hostile feed's million spans). */
const MAX_NODES = 5000;

/** A link the app may hand to the system's browser: http(s) with a host, or mailto. */
export function safeHref(raw: string | null | undefined): string | null {
  if (!raw || raw.length > 2000) return null;
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return null;
  }
  if ((u.protocol === "http:" || u.protocol === "https:") && u.hostname) return u.href;
  if (u.protocol === "mailto:") return u.href;
  return null;
}

/** "1:02" → 62, "1:02:03" → 3723; null if it is not a time. */
export function clock(t: string): number | null {
  const parts = t.split(":");
  if (parts.length < 2 || parts.length > 3) return null;
  const n = parts.map(Number);
  if (n.some((x) => !Number.isInteger(x) || x < 0)) return null;
  if (n.slice(1).some((x) => x > 59)) return null;
  return n.reduce((acc, x) => acc * 60 + x, 0);
}

// An address (up to the next space or closing punctuation), or a time.
const TOKENS = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'])|\b((?:\d{1,2}:)?\d{1,2}:\d{2})\b/g;

/** Text with its addresses as links and its times as seek buttons. */
function richText(text: string, actions: NoteActions, budget = { n: MAX_NODES }): Node[] {
  const out: Node[] = [];
  let last = 0;
  for (const m of text.matchAll(TOKENS)) {
    if (budget.n <= 0) break; // the rest stays text
    const at = m.index ?? 0;
    if (at > last) out.push(document.createTextNode(text.slice(last, at)));
    if (m[1]) {
      const href = safeHref(m[1]);
      out.push(href ? linkButton(href, m[1], actions) : document.createTextNode(m[1]));
    } else {
      const s = clock(m[2]);
      out.push(s == null ? document.createTextNode(m[2]) : seekButton(m[2], s, actions));
    }
    last = at + m[0].length;
    budget.n -= 1;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

function linkButton(href: string, label: string, actions: NoteActions): HTMLElement {
  return h("a", {
    href: "#",
    class: "note-link",
    "data-href": href,
    title: href,
    onclick: (e: Event) => {
      e.preventDefault();
      actions.link(href);
    },
  }, label);
}

function seekButton(label: string, seconds: number, actions: NoteActions): HTMLElement {
  return h("button", { type: "button", class: "link timestamp", "data-seek": seconds, title: `Play from ${label}`, onclick: () => actions.seek(seconds) }, label);
}

/** The notes as elements: the sanitised HTML if there is some, else the text. */
export function notesNodes(html: string | null, text: string | null, actions: NoteActions): Node[] {
  if (html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const budget = { n: MAX_NODES };
    const nodes = copyChildren(doc.body, actions, budget);
    if (nodes.length) return nodes;
  }
  if (!text) return [];
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => h("p", {}, ...richText(p, actions)));
}

function copyChildren(from: Node, actions: NoteActions, budget: { n: number }): Node[] {
  const out: Node[] = [];
  for (const child of Array.from(from.childNodes)) {
    if (budget.n <= 0) break;
    budget.n -= 1;
    if (child.nodeType === Node.TEXT_NODE) {
      const t = child.textContent ?? "";
      if (t) out.push(...richText(t, actions, budget));
      continue;
    }
    if (child.nodeType !== Node.ELEMENT_NODE) continue;
    const el = child as Element;
    const tag = el.tagName.toUpperCase();
    if (DROPPED.has(tag)) continue;
    if (tag === "BR") {
      out.push(h("br"));
    } else if (tag === "A") {
      const href = safeHref(el.getAttribute("href"));
      const label = (el.textContent ?? "").replace(/\s+/g, " ").trim() || href || "";
      out.push(href ? linkButton(href, label, actions) : document.createTextNode(label));
    } else if (BLOCKS.has(tag) || INLINE.has(tag)) {
      const made = document.createElement(tag.toLowerCase());
      made.append(...copyChildren(el, actions, budget));
      out.push(made);
    } else if (HEADINGS.has(tag)) {
      const made = h("h4", { class: "note-heading" });
      made.append(...copyChildren(el, actions, budget));
      out.push(made);
    } else {
      // div, span, img, table, …: not kept, their text is.
      out.push(...copyChildren(el, actions, budget));
    }
  }
  return out;
}
