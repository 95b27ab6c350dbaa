-- wrk script: POST /api/v1/customers with a unique email per request.
--
--   wrk -s tests/bench/post_create.lua URL -- [RUN_TAG]
--
-- Emails are bench-RUN_TAG-THREAD-N@example.com, so runs and threads never
-- collide (a repeated email would be a 409, not a create).

local next_thread = 0

function setup(thread)
    thread:set("thread_no", next_thread)
    next_thread = next_thread + 1
end

local tag
local n = 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
    tag = args[1] or tostring(os.time())
    -- Keep the headers given with -H (the bench's Authorization).
    for k, v in pairs(wrk.headers) do
        headers[k] = headers[k] or v
    end
end

function request()
    n = n + 1
    local body = string.format(
        '{"name":"Bench Customer %d-%d","email":"bench-%s-%d-%d@example.com",'
            .. '"company":"Bench Ltd","status":"lead","tags":["bench"]}',
        thread_no or 0, n, tag, thread_no or 0, n)
    return wrk.format("POST", "/api/v1/customers", headers, body)
end
