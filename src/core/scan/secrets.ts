import picomatch from 'picomatch';

/**
 * Files that usually hold credentials. They are never read into memory by default and are
 * reported as skipped with reason 'secret'. Matched case-insensitively against the file name.
 */
const SECRET_NAME_GLOBS = [
  '.env',
  '.env.*',
  '*.env',
  '*.pem',
  '*.key',
  '*.p12',
  '*.pfx',
  '*.ppk',
  '*.keystore',
  '*.jks',
  '*.kdbx',
  'id_rsa*',
  'id_dsa*',
  'id_ecdsa*',
  'id_ed25519*',
  '.npmrc',
  '.yarnrc.yml',
  '.pypirc',
  '.netrc',
  '_netrc',
  '.pgpass',
  '.htpasswd',
  '.git-credentials',
  '.dockercfg',
  '.s3cfg',
  'credentials*.json',
  'client_secret*.json',
  'service-account*.json',
  'secrets.*',
  '*.tfstate',
  '*.tfstate.*',
  '*.tfvars',
];

/** Templates that document variables without holding them. */
const NOT_SECRET_NAME_GLOBS = ['.env.example', '.env.sample', '.env.template', '.env.dist', '*.env.example', '*.env.sample', '*.env.template'];

/** Whole folders of credentials, and well-known credential files inside dot-folders. */
const SECRET_PATH_GLOBS = ['**/.ssh/**', '**/.gnupg/**', '**/.aws/credentials', '**/.docker/config.json', '**/.kube/config'];

const opts = { dot: true, nocase: true };
const isSecretName = picomatch(SECRET_NAME_GLOBS, opts);
const isTemplateName = picomatch(NOT_SECRET_NAME_GLOBS, opts);
const isSecretPathMatch = picomatch(SECRET_PATH_GLOBS, opts);

/** True if a repo-relative, '/'-separated file path looks like it holds secrets. */
export function isSecretPath(relPath: string): boolean {
  const name = relPath.slice(relPath.lastIndexOf('/') + 1);
  if (isSecretName(name)) return !isTemplateName(name);
  return isSecretPathMatch(relPath);
}
