// Helpers of the console: the API with the analyst's key, and DOM nodes filled with textContent
// only — no data ever becomes HTML (issue 20).

export async function api(key, path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: {
      "x-api-key": key,
      // Every change is JSON, body or not: the server refuses any other POST (issue 35).
      ...(options.method && options.method !== "GET" ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
  });
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok)
    throw Object.assign(new Error(body?.message ?? `HTTP ${res.status}`), { status: res.status, body });
  return body;
}

export const text = (el, value) => {
  el.textContent = value ?? "—";
};
export const when = (iso) =>
  iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" }) : "—";
export function cell(row, value, cls) {
  const td = row.insertCell();
  td.textContent = value ?? "—";
  if (cls) td.className = cls;
  return td;
}
