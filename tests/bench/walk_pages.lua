-- wrk script: walk a keyset list page by page, following next_cursor, and
-- start again from the first page at the end.
--
--   wrk -s walk_pages.lua URL -- PATH
--
-- PATH is the list with its query (e.g. /api/v1/segments/3/members?limit=50).
-- Each connection keeps its own place: wrk calls request() and response()
-- per thread, and a thread's connections share these variables, so pages
-- are taken in turn by whichever connection asks next.

local path, next_path

function init(args)
    path = args[1]
    next_path = path
end

function request()
    return wrk.format("GET", next_path)
end

function response(status, headers, body)
    local cursor = status == 200 and body:match('"next_cursor":"([^"]+)"')
    if cursor then
        local sep = path:find("?", 1, true) and "&" or "?"
        next_path = path .. sep .. "cursor=" .. cursor
    else
        next_path = path
    end
end
