// The page's service worker: every file the page needs is cached when it first loads,
// so the page opens and runs offline afterwards. The network comes first (a rebuilt
// page is seen at once); the cache answers when there is none.

const CACHE = "basalt-web-1";
const PAGE = ["./", "index.html", "app.js", "plot.js", "style.css",
              "vendor/micropython.mjs", "vendor/micropython.wasm", "py/files.json"];

self.addEventListener("install", (event) => {
    event.waitUntil((async () => {
        const cache = await caches.open(CACHE);
        const list = await (await fetch("py/files.json")).json();
        await cache.addAll(PAGE.concat(list.map((path) => "py/" + path)));
        await self.skipWaiting();
    })());
});

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
    event.respondWith((async () => {
        const cache = await caches.open(CACHE);
        try {
            const response = await fetch(event.request);
            if (response.ok && event.request.method === "GET") {
                cache.put(event.request, response.clone());
            }
            return response;
        } catch (error) {
            const cached = await cache.match(event.request, { ignoreSearch: true });
            if (cached) return cached;
            throw error;
        }
    })());
});
