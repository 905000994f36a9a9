/** Where a manifest node sits: the file, and 1-based line and column. */
export interface Position {
  file: string;
  line: number;
  col: number;
}

/**
 * A terminal problem with a user's input: it is reported, and retrying cannot
 * fix it until the input changes. `app` is set when the app's name is known.
 */
export interface Problem extends Position {
  app?: string;
  message: string;
}

/** Formats a problem as `FILE:LINE:COL: app NAME: message`, the shape editors and CI logs link. */
export function formatProblem(p: Problem): string {
  const who = p.app ? `app ${p.app}: ` : '';
  return `${p.file}:${p.line}:${p.col}: ${who}${p.message}`;
}
