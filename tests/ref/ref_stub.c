/* Keeps the reference library non-empty before any reference op exists. */
int clm_ref_stub_unused;
