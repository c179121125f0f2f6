//! The emissions engine: activity records to kg CO2e by published factors
//! (`factors/`, compiled in), every line saying which factor of which
//! edition it used. Sans-I/O: the Worker stores and serves the lines.

pub mod factors;
pub mod lines;
pub mod list;
pub mod rows;
pub mod rules;
pub mod spend;
pub mod summary;

#[cfg(test)]
mod method_tests;
#[cfg(test)]
mod published;
#[cfg(test)]
mod tests;
