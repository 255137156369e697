//! Specs: the input side, from files to documents. `load` finds, reads and splits files;
//! `positions` maps fields to lines and columns. What a valid spec is, is the chart's
//! (`kind`).

pub mod load;
pub mod positions;
