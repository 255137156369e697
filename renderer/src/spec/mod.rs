//! Specs: everything about the input side, from files to a defaulted, typed MicroServiceDeploy.
//! `load` finds and splits files, `positions` maps fields to lines, `decode` types the values,
//! `defaults` fills what is missing and `config` reads the runtime configuration.

pub mod config;
pub mod crd;
pub mod decode;
pub mod defaults;
pub mod load;
pub mod model;
pub mod positions;
