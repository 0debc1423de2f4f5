/** SQL migration files imported as text (embedded into the binary). */
declare module "*.sql" {
  const text: string;
  export default text;
}

/** The admin page's static files, imported as text (embedded into the binary). */
declare module "*.html" {
  const text: string;
  export default text;
}
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "*app.js" {
  const text: string;
  export default text;
}
