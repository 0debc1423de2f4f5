/** SQL migration files imported as text (embedded into the binary). */
declare module "*.sql" {
  const text: string;
  export default text;
}
