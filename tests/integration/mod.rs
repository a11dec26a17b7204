mod bad_config;
mod end_to_end;
mod restart;
mod schema_fallback;
mod support;
