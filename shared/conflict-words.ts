/**
 * How a conflict is settled, said the same everywhere (CLI, Activity, why, the folder card). Keeping
 * the copy's version means renaming it onto the original's name: a new-user try deleted the
 * original, and the copy's bytes stayed under the copy's name, still listed as a conflict.
 */
export const SETTLE_CONFLICT = "keep the one you want and delete the other (to keep the copy's version, rename the copy to the original's name)";
