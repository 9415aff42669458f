-- wrk at a given rate: wrk -tT -cC -s pace.lua URL -- RATE T
--
-- wrk has no rate option, and the delay() it asks a script for is cut to
-- whole milliseconds (2.6 waits 2 ms), so a constant delay of C / RATE
-- misses the rate by up to a third.  Instead each wrk thread keeps a
-- schedule of slots RATE / T apart, each response takes the next slot
-- and waits until it: a wait cut short sends one request early, not all
-- of the later ones, and the rate over the run is RATE as long as the
-- server keeps up.  A thread more than 50 ms behind starts again from
-- now instead of sending a burst.

local ffi = require("ffi")

ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } pace_timespec;
int clock_gettime(int clock, pace_timespec *ts);
]]

local CLOCK_MONOTONIC = 1
local ts = ffi.new("pace_timespec")

local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local interval, slot

function init(args)
    interval = 1000 * tonumber(args[2]) / tonumber(args[1])
end

function delay()
    local now = now_ms()
    if slot == nil or slot < now - 50 then
        slot = now
    end
    slot = slot + interval
    return math.max(0, slot - now)
end
