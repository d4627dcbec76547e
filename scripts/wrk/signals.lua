-- wrk script: the signals page's requests (all classes, or one class).
local paths = {
  "/api/signals",
  "/api/signals?class=weak",
  "/api/signals?class=weak,emerging",
  "/api/topics?limit=50",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
