import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // src/ is the production image and the npm package; the simulator ships in neither.
    files: ['src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/simulator', '**/simulator/**'], message: 'src/ must not import the simulator: it is not in the image nor the package.' }] },
      ],
    },
  },
  {
    files: ['bench/**', 'test/**', 'src/cli.ts', 'simulator/demo.ts', 'simulator/main.ts'],
    rules: { 'no-console': 'off' },
  },
);
