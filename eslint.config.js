// Lints the TypeScript sources, tests, generators and k6 scripts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'dashboards/generated/', 'alerts/generated/', 'coverage/', '**/*.d.ts', 'prisma/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    // Scripts and benchmarks print their results; tests may too.
    files: ['scripts/**', 'test/**', 'load-tests/**', 'src/api/token-cli.ts', 'bench/**'],
    rules: { 'no-console': 'off' },
  },
);
