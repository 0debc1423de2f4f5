/** SQL migration files imported as text (embedded into the binary). */
declare module "*.sql" {
  const text: string;
  export default text;
}

/** The admin page's script and stylesheet, imported as text (embedded into the binary; Bun's own types cover `.html`). */
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "*/public/admin/app.js" {
  const text: string;
  export default text;
}
/** Redoc's standalone renderer, embedded into the binary for the /api/docs page (a file path). */
declare module "redoc/bundles/redoc.standalone.js" {
  const path: string;
  export default path;
}
