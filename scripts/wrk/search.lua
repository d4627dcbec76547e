-- wrk script: rotates through searches an analyst types, in Finnish and
-- English, with filters and facets (the API computes facets on every search).
local queries = {
  "/api/search?q=coronavirus&limit=20",
  "/api/search?q=brexit%20deal&limit=20",
  "/api/search?q=lakko&lang=fi&limit=20",
  "/api/search?q=%22interest%20rates%22&limit=20",
  "/api/search?q=hallitus%20OR%20eduskunta&limit=20",
  "/api/search?q=trade%20war&from=2019-01-01&limit=20",
  "/api/search?q=ukraina&limit=50",
  "/api/search?q=bank%20-england&limit=20",
  "/api/search?q=title:oil&limit=20",
  "/api/search?q=sote&lang=fi&limit=20",
  "/api/search?q=energy&source=guardian&limit=20",
  "/api/search?q=koulu&limit=20",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", queries[(i % #queries) + 1])
end
