-- The peer the benchmark compares with: the same naive recursion in Lua,
-- inline in the event loop or in a worker thread (ngx.run_worker_thread).
local _M = {}

local function fib(n)
    if n < 2 then
        return n
    end
    return fib(n - 1) + fib(n - 2)
end

_M.fib = fib

return _M
