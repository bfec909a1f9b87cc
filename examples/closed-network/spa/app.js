// The closed-network example's front end: lists the inventory through the private
// API (its endpoint answers the API's name inside the corporate network), then reads
// one item by id. The custom content-type makes the browser send a CORS preflight,
// which the API answers itself.
const API = "http://c1o2v3e4a5.execute-api.us-east-1.amazonaws.com";

async function getJson(path) {
  const r = await fetch(API + path, { headers: { "content-type": "application/json" } });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

async function load() {
  const status = document.getElementById("status");
  const body = document.querySelector("#items tbody");
  try {
    const list = await getJson("/items");
    for (const item of list.items) {
      const tr = document.createElement("tr");
      for (const v of [item.id, item.name, item.qty]) {
        const td = document.createElement("td");
        td.textContent = String(v);
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    const first = await getJson("/items/" + list.items[0].id);
    document.getElementById("detail").textContent =
      "Item " + first.id + " read by id: " + first.name + " (" + first.qty + " in stock)";
    status.textContent = list.items.length + " items from " + list.database + " via the private API";
    status.dataset.state = "ok";
  } catch (e) {
    status.textContent = "Could not reach the private API: " + e.message;
    status.dataset.state = "error";
  }
}

load();
