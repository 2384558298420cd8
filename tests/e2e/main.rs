//! The black-box test binary: the real server on 127.0.0.1:0 beside a local image server.

mod backpressure;
mod cli;
mod connections;
mod contract;
mod deepscan;
mod deqr;
mod expect_continue;
mod failures;
mod fetch_policy;
mod formats;
mod helpers;
mod image_formats;
mod lifecycle;
mod limits;
mod observability;
mod openapi;
mod openapi_compat;
mod providers;
mod upload;
