import path from 'node:path';
import { defineConfig } from '@tarojs/cli';

/**
 * One config for both targets: `taro build --type weapp` writes dist/weapp, `--type h5` writes dist/h5.
 * TARO_APP_API_URL comes from client/.env* (see .env and .env.h5) and is inlined at build time.
 */
export default defineConfig(() => {
  const target = process.env.TARO_ENV ?? 'weapp';
  // Source shared with the server, and tRPC (modern syntax), are transpiled like our own code.
  const compileInclude = [path.resolve(__dirname, '../../shared/src'), /[\\/]node_modules[\\/]@trpc[\\/]/];
  // npm may install this plugin under client/node_modules (its optional `vite@4` peer clashes with the root's
  // vite); Taro injects imports of it into @tarojs/taro-h5, which lives at the root. Resolve it from here.
  const frameworkReact = path.dirname(require.resolve('@tarojs/plugin-framework-react/package.json'));
  return {
    projectName: 'wxkit',
    alias: { '@tarojs/plugin-framework-react': frameworkReact },
    date: '2025-01-01',
    designWidth: 750,
    deviceRatio: { 640: 2.34 / 2, 750: 1, 375: 2, 828: 1.81 / 2 },
    sourceRoot: 'src',
    outputRoot: `dist/${target}`,
    plugins: [],
    defineConstants: {},
    copy: { patterns: [], options: {} },
    framework: 'react',
    compiler: 'webpack5',
    cache: { enable: false },
    // The progress bar in a terminal; in logs (CI, tests) only the result.
    logger: { quiet: !process.stdout.isTTY, stats: false },
    mini: {
      compile: { include: compileInclude },
      postcss: {
        pxtransform: { enable: true, config: {} },
        cssModules: { enable: false, config: { namingPattern: 'module', generateScopedName: '[name]__[local]___[hash:base64:5]' } },
      },
      webpackChain(chain, webpack) {
        // Mini-programs have no AbortController; tRPC's links create one per call. Supplied where referenced.
        chain.plugin('abortControllerProvider').use(webpack.ProvidePlugin, [
          { AbortController: ['abortcontroller-polyfill/dist/cjs-ponyfill.js', 'AbortController'] },
        ]);
      },
    },
    h5: {
      publicPath: '/',
      staticDirectory: 'static',
      compile: { include: compileInclude },
      output: { filename: 'js/[name].[contenthash:8].js', chunkFilename: 'js/[name].[contenthash:8].js' },
      miniCssExtractPluginOption: {
        ignoreOrder: true,
        filename: 'css/[name].[contenthash:8].css',
        chunkFilename: 'css/[name].[contenthash:8].css',
      },
      router: { mode: 'hash' },
      postcss: {
        autoprefixer: { enable: true, config: {} },
        cssModules: { enable: false, config: { namingPattern: 'module', generateScopedName: '[name]__[local]___[hash:base64:5]' } },
      },
    },
  };
});
