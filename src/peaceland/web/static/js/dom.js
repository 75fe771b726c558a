// The only way this page builds DOM. Text goes in as text nodes, never as HTML: names and
// words come from drones and are attacker-controlled. There is no innerHTML in this page.

const ATTRIBUTES = new Set([
  "id", "title", "type", "role", "placeholder", "for", "name", "min", "max", "step",
  "maxlength", "colspan", "tabindex", "disabled", "hidden", "value",
]);

/** `el("td", {class: "x", text: name}, child, ...)`: an element with safe properties only. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key.startsWith("aria-") || ATTRIBUTES.has(key)) {
      node.setAttribute(key, value === true ? "" : String(value));
    } else throw new Error(`el: attribute ${key} is not allowed`);
  }
  append(node, children);
  return node;
}

/** Appends nodes and strings (as text) to `node`, skipping null and false. */
export function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Sets the text of the element with this id. */
export function setText(id, text) {
  const node = document.getElementById(id);
  if (node) node.textContent = String(text);
}

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`no element #${id}`);
  return node;
}

/**
 * Makes `container`'s children the views of `items`, in order, keeping the node of each key
 * (so a field being typed in keeps its focus and text). `cache` maps key -> node and may be
 * shared by several containers: the caller forgets the keys it no longer shows.
 */
export function reconcile(container, items, { cache, key, create, update }) {
  const placed = new Set();
  let cursor = container.firstChild;
  for (const item of items) {
    const k = key(item);
    let node = cache.get(k);
    if (!node) {
      node = create(item);
      cache.set(k, node);
    }
    update(node, item);
    placed.add(node);
    if (node === cursor) cursor = cursor.nextSibling;
    else container.insertBefore(node, cursor);
  }
  for (const child of [...container.children]) if (!placed.has(child)) child.remove();
}

/** Drops the entries of `cache` whose key is not in `keys`. */
export function forgetOthers(cache, keys) {
  const kept = new Set(keys);
  for (const k of [...cache.keys()]) if (!kept.has(k)) cache.delete(k);
}
