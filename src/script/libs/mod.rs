//! The libraries Redis adds to its Lua: bit, cjson, cmsgpack and struct.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod lstruct;
