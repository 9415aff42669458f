-- The request mix of make soak, for wrk: cheap, heavy, big, invalid and
-- too slow requests.  Every answer is checked: a 200 against F(n) for the
-- n its ETag names, the rest against the documented bodies.

local paths = {}

local function add(path, weight)
    for _ = 1, weight do
        paths[#paths + 1] = path
    end
end

for n = 5, 20 do add("/fib?num=" .. n, 3) end      -- cheap, inline
for n = 24, 30 do add("/fib?num=" .. n, 1) end     -- heavy, in the pool
add("/fast?num=100000", 1)                         -- big
add("/fib?num=abc", 2)                             -- invalid
add("/fib?num=99", 1)                              -- above the limit
add("/slow?num=60", 1)                             -- exceeds fib_timeout

local known = {
    ["num must be a non-negative decimal integer\n"] = 400,
    ["num 99 exceeds fib_max_num 42\n"] = 400,
    ["the server is busy: retry later\n"] = 503,
    ["the computation exceeded fib_timeout 200ms\n"] = 503,
}

local function fib(n)
    local a, b = 0, 1
    for _ = 1, n do
        a, b = b, a + b
    end
    return a
end

local threads = {}

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

function init(args)
    i = id
    ok, rejected, bad = 0, 0, 0
end

function request()
    i = i + 1
    return wrk.format("GET", paths[(i % #paths) + 1])
end

function response(status, headers, body)
    if status == 200 then
        local n = tonumber((headers["ETag"] or ""):match('"fib%-(%d+)"'))
        if n == 100000 and #body == 20900 then
            ok = ok + 1
        elseif n and n <= 30 and body == string.format("%d\n", fib(n)) then
            ok = ok + 1
        else
            bad = bad + 1
        end
    elseif known[body] == status then
        rejected = rejected + 1
    else
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local t = { ok = 0, rejected = 0, bad = 0 }
    for _, thread in ipairs(threads) do
        for k in pairs(t) do
            t[k] = t[k] + thread:get(k)
        end
    end
    io.write(string.format("mix: %d requests, %d correct 200, %d documented "
                           .. "4xx/503, %d wrong, %d socket errors\n",
                           summary.requests, t.ok, t.rejected, t.bad,
                           summary.errors.connect + summary.errors.read
                           + summary.errors.write + summary.errors.timeout))
end
