//! Network access for the containers that need it (image builds, the dependency-fetch
//! phase): the CA bundle to trust and the proxy variables to pass in.
//!
//! ## Security
//! Only image builds and the prepare phase get this; a job's own code never runs with
//! the network.
