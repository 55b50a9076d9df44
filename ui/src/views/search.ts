// The search view: what the library's index finds for the query, with the
// matches marked (text nodes and <mark>, never HTML from the catalog).
import { api } from "../api";
import type { SearchHit } from "../bindings/SearchHit";
import { h, keyed } from "../dom";
import { content, searchBox } from "../page";
import { open } from "../playerview";
import { state } from "../state";

export async function renderSearch() {
  const query = state.query;
  const hits = await api.search(query);
  // A newer query is on its way (or the search was left).
  if (query !== state.query || query !== searchBox.value.trim()) return;
  keyed(content, ["results"], (k) => k, () => JSON.stringify([query, hits]), () => results(query, hits));
}

function results(query: string, hits: SearchHit[]) {
  return h(
    "section",
    { class: "collection results" },
    h("header", {}, h("h2", {}, `Results for “${query}”`)),
    hits.length
      ? h(
          "ol",
          { class: "items" },
          hits.map((hit) =>
            h(
              "li",
              { class: "item", "data-item": hit.item_id },
              h(
                "button",
                {
                  type: "button",
                  class: "item-main",
                  onclick: () => void open({ library: hit.library_id, collection: hit.collection_id, item: hit.item_id }),
                },
                h("span", { class: "num" }, hit.downloaded ? "●" : "○"),
                h(
                  "span",
                  { class: "item-text" },
                  h("span", { class: "item-title" }, hit.title),
                  h("span", { class: "item-sub snippet" }, ...snippet(hit.snippet)),
                  h("span", { class: "item-sub" }, hit.collection_title),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "none" }, "No matches in your library."),
  );
}

/** "a [match] b" → text nodes with <mark>, never HTML from the catalog. */
function snippet(s: string): Node[] {
  return s.split(/(\[[^\]]*\])/).map((part) =>
    part.startsWith("[") && part.endsWith("]") ? h("mark", {}, part.slice(1, -1)) : document.createTextNode(part),
  );
}
