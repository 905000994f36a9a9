/** Variables a manifest may use in env values, as in Amahi's install scripts. */
export const ENV_VARIABLES = ['APP_IDENTIFIER', 'APP_HOSTNAME', 'APP_FQDN', 'HOST_PORT'] as const;
export type EnvVariables = Record<(typeof ENV_VARIABLES)[number], string>;

/**
 * Substitutes ${NAME} in a value. `$${` stands for a literal `${`. An unknown
 * name is an error, so a typo never reaches the app as a literal.
 */
export function substitute(value: string, vars: EnvVariables): { value: string; error?: string } {
  let error: string | undefined;
  const out = value.replace(/\$(\$)?\{([^}]*)\}/g, (whole, escaped: string | undefined, name: string) => {
    if (escaped) return whole.slice(1);
    if (name in vars) return vars[name as keyof EnvVariables];
    error ??= `unknown variable \${${name}}: use one of ${ENV_VARIABLES.map((v) => `\${${v}}`).join(', ')}, or write $\${${name}} for a literal`;
    return whole;
  });
  return { value: out, error };
}
