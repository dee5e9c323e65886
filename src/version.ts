/** ocirun's own version (package.json's), printed by --version and features. */
export const VERSION = '0.1.0';
