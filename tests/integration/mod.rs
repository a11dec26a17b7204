mod bad_config;
mod end_to_end;
mod fixtures;
mod options;
mod restart;
mod schema_fallback;
mod support;
mod types;
