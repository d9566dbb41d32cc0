//! Parent <-> enclave wire protocol. (Being built: issue #2.)
#![forbid(unsafe_code)]
