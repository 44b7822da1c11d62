//! Step executables for Jenkins `sh` steps (deploy-health-wait, deploy-switch,
//! deploy-weight, deploy-rollback, deploy-notify) and the Groovy library over
//! them. The executables live in `src/bin/`; the rules in the switchyard library.
