-- wrk script: GET /api/v1/customers/{id} with a random id in [lo, hi].
--
--   wrk -s tests/bench/get_random.lua URL -- LO HI [TOTAL THREADS DONE_PREFIX]
--
-- With TOTAL and THREADS each thread stops after TOTAL/THREADS responses,
-- so a run makes about TOTAL requests (scripts/bench.sh uses it to drive a
-- fixed number of requests through the workers while watching their RSS).
-- wrk itself still waits for its -d duration, so a thread that is done
-- creates the file DONE_PREFIX<thread number>; once all exist the caller
-- sends wrk SIGINT, which makes it report at once.

local next_thread = 0

-- Main state, once per thread before it starts: give each a number.
function setup(thread)
    thread:set("thread_no", next_thread)
    next_thread = next_thread + 1
end

local lo, hi

function init(args)
    lo = tonumber(args[1]) or 1
    hi = tonumber(args[2]) or lo
    if hi < lo then
        hi = lo
    end
    math.randomseed(os.time() * 1000 + (thread_no or 0))

    local total, threads, done_prefix = tonumber(args[3]), tonumber(args[4]), args[5]
    if total and threads and threads > 0 then
        local limit = math.ceil(total / threads)
        local seen = 0
        -- Defined only when needed: a response() callback costs wrk time.
        function response()
            seen = seen + 1
            if seen == limit then
                if done_prefix then
                    local f = io.open(done_prefix .. (thread_no or 0), "w")
                    if f then
                        f:close()
                    end
                end
                wrk.thread:stop()
            end
        end
    end
end

function request()
    return wrk.format("GET", "/api/v1/customers/" .. math.random(lo, hi))
end
