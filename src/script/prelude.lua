-- Builds the script environments. Runs once per Lua state, before any user
-- code, with the primitives implemented in Rust passed in `P`. Everything
-- here stays in locals: user code reaches only the protected views built
-- below. Frames of this chunk are skipped when an error is located.
local P = ...
local getinfo = debug.getinfo
local setfenv, getfenv = setfenv, getfenv
local base_pcall, base_xpcall = pcall, xpcall
local base_error, base_type, base_tostring = error, type, tostring
local base_setmt, base_rawset, base_rawget = setmetatable, rawset, rawget
local base_select = select
local THIS = getinfo(1, 'S').source

local READONLY = 'Attempt to modify a readonly table'

-- proxy -> protected table (weak keys); read by the Rust overrides of
-- pairs, next, rawget and friends through P.set_proxies.
local real_of = base_setmt({}, { __mode = 'k' })
P.set_proxies(real_of)

local function refuse_write()
  base_error(READONLY, 2)
end

local function readonly(t)
  local view = base_setmt({}, { __index = t, __newindex = refuse_write })
  real_of[view] = t
  return view
end

local function no_such_global(_, name)
  base_error("Script attempted to access nonexistent global variable '" .. base_tostring(name) .. "'", 2)
end

local function strict(t)
  return base_setmt(t, { __index = no_such_global })
end

-- Locates the frame an error belongs to: the raising function, or its caller
-- when the raiser is a C function; frames of this chunk never count.
local function locate()
  local level = 3
  local info = getinfo(level, 'Sl')
  while info and info.source == THIS do
    level = level + 1
    info = getinfo(level, 'Sl')
  end
  if info and info.what == 'C' then
    level = level + 1
    info = getinfo(level, 'Sl')
    while info and info.source == THIS do
      level = level + 1
      info = getinfo(level, 'Sl')
    end
  end
  return info
end

local errinfo = P.errinfo
local function on_error(e)
  local info = locate()
  local t
  if base_type(e) == 'table' then
    t = e
  elseif base_type(e) == 'userdata' then
    local msg, as_table = errinfo(e)
    if msg == nil then
      t = { err = 'ERR ' .. base_tostring(e) }
    elseif as_table then
      t = { err = msg }
    else
      t = { err = 'ERR ' .. msg }
    end
  else
    t = { err = 'ERR ' .. base_tostring(e) }
  end
  if info then
    t.source = info.source
    t.line = info.currentline
  end
  return t
end

-- pcall hands back the text of a Redis error table rather than the table.
local function pcall_result(ok, ...)
  if ok then
    return true, ...
  end
  local e = ...
  local kind = base_type(e)
  if kind == 'table' then
    local m = e.err
    local mk = base_type(m)
    if mk == 'string' or mk == 'number' then
      return false, m
    end
  elseif kind == 'userdata' then
    local msg = errinfo(e)
    if msg ~= nil then
      return false, msg
    end
  end
  return false, e
end
local function script_pcall(...)
  if base_select('#', ...) == 0 then
    return false, 'attempt to call a nil value'
  end
  return pcall_result(base_pcall(...))
end

local function copy(t)
  local c = {}
  for k, v in next, t do
    c[k] = v
  end
  return c
end

-- Libraries.
local math_t = copy(math)
math_t.random = P.random
math_t.randomseed = P.randomseed
local string_view = readonly(copy(string))
local libs = {
  string = string_view,
  table = readonly(copy(table)),
  math = readonly(math_t),
  coroutine = readonly(copy(coroutine)),
  bit = readonly(P.bit),
  cjson = readonly(P.cjson),
  cmsgpack = readonly(P.cmsgpack),
  struct = readonly(P.struct),
}
-- String methods resolve through the protected view.
local string_meta = getmetatable('')
string_meta.__index = string_view
P.set_string_meta(readonly(copy(string_meta)))

local function redis_lib(with_eval_extras)
  local r = {
    call = P.call,
    pcall = P.pcall,
    error_reply = P.error_reply,
    status_reply = P.status_reply,
    sha1hex = P.sha1hex,
    log = P.log,
    setresp = P.setresp,
    set_repl = P.set_repl,
    acl_check_cmd = P.acl_check_cmd,
    LOG_DEBUG = 0,
    LOG_VERBOSE = 1,
    LOG_NOTICE = 2,
    LOG_WARNING = 3,
    REPL_NONE = 0,
    REPL_AOF = 1,
    REPL_SLAVE = 2,
    REPL_REPLICA = 2,
    REPL_ALL = 3,
    REDIS_VERSION = P.version,
    REDIS_VERSION_NUM = P.version_num,
  }
  if with_eval_extras then
    r.replicate_commands = function()
      return true
    end
    r.breakpoint = function()
      return false
    end
    r.debug = function() end
  end
  return readonly(r)
end

local function base_globals(redis)
  local g = {
    _VERSION = _VERSION,
    assert = assert,
    collectgarbage = collectgarbage,
    error = base_error,
    gcinfo = gcinfo,
    getmetatable = P.getmetatable,
    ipairs = P.ipairs,
    load = P.load,
    loadstring = P.loadstring,
    next = P.next,
    pairs = P.pairs,
    pcall = script_pcall,
    rawequal = rawequal,
    rawget = P.rawget,
    rawset = P.rawset,
    select = base_select,
    setmetatable = P.setmetatable,
    tonumber = tonumber,
    tostring = base_tostring,
    type = base_type,
    unpack = unpack,
    xpcall = base_xpcall,
    redis = redis,
  }
  for k, v in next, libs do
    g[k] = v
  end
  return g
end

-- EVAL scripts.
local eval_g = strict(base_globals(redis_lib(true)))
eval_g.__redis__err__handler = on_error
local eval_env = readonly(eval_g)
eval_g._G = eval_env
P.set_meta_view(eval_env, {})

-- Functions (FCALL) and their library code at load time: one view whose
-- backing table is switched while a library loads.
local func_g = strict(base_globals(redis_lib(false)))
local load_redis = strict({
  register_function = P.register_function,
  log = P.log,
  LOG_DEBUG = 0,
  LOG_VERBOSE = 1,
  LOG_NOTICE = 2,
  LOG_WARNING = 3,
  REDIS_VERSION = P.version,
  REDIS_VERSION_NUM = P.version_num,
})
local load_g = strict({ redis = readonly(load_redis) })
local func_meta = { __newindex = refuse_write, __index = func_g }
local func_env = base_setmt({}, func_meta)
real_of[func_env] = func_g
func_g._G = func_env
P.set_meta_view(func_env, {})

local function set_loading(on)
  if on then
    func_meta.__index = load_g
    real_of[func_env] = load_g
  else
    func_meta.__index = func_g
    real_of[func_env] = func_g
  end
end

return {
  eval_env = eval_env,
  func_env = func_env,
  set_loading = set_loading,
  eval_g = eval_g,
  on_error = on_error,
  setfenv = setfenv,
  getfenv = getfenv,
  base_next = next,
  base_pairs = pairs,
  base_ipairs = ipairs,
  base_load = load,
  base_loadstring = loadstring,
}
