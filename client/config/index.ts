import path from 'node:path';
import { defineConfig } from '@tarojs/cli';

/**
 * One config for both targets: `taro build --type weapp` writes dist/weapp, `--type h5` writes dist/h5
 * (WXKIT_CLIENT_OUT_DIR overrides it: scripts/ensure-build.mjs builds test variants beside them).
 * TARO_APP_* settings come from client/.env* (see .env and .env.h5), or from the environment of the build, which wins
 * over the files; they are inlined at build time.
 */
export default defineConfig(() => {
  const target = process.env.TARO_ENV ?? 'weapp';
  // Source shared with the server, and tRPC (modern syntax), are transpiled like our own code.
  const compileInclude = [path.resolve(__dirname, '../../shared/src'), /[\\/]node_modules[\\/]@trpc[\\/]/];
  // npm may install this plugin under client/node_modules (its optional `vite@4` peer clashes with the root's
  // vite); Taro injects imports of it into @tarojs/taro-h5, which lives at the root. Resolve it from here.
  const frameworkReact = path.dirname(require.resolve('@tarojs/plugin-framework-react/package.json'));
  // WeUI's LESS sources (src/styles/weui.less picks the parts the pages use) call mixins the old way: keep the
  // build output to real problems.
  const lessOptions = { lessOptions: { quietDeprecations: true } };
  // Light theme only, and WXSS-safe selectors on weapp (see the plugin).
  const weuiPlugin = './config/postcss-weui.js';
  return {
    projectName: 'wxkit',
    alias: { '@tarojs/plugin-framework-react': frameworkReact },
    date: '2025-01-01',
    // WeUI (WeChat's design language) is specified on a 375-wide screen, so the app's own styles are too: 1px in a
    // stylesheet is 1 CSS px on a 375 px phone (2rpx on weapp, rem on H5).
    designWidth: 375,
    deviceRatio: { 640: 2.34 / 2, 750: 1, 375: 2, 828: 1.81 / 2 },
    sourceRoot: 'src',
    outputRoot: process.env.WXKIT_CLIENT_OUT_DIR || `dist/${target}`,
    plugins: [],
    defineConstants: {},
    copy: { patterns: [], options: {} },
    framework: 'react',
    compiler: 'webpack5',
    cache: { enable: false },
    // The progress bar in a terminal; in logs (CI, tests) only the result.
    logger: { quiet: !process.stdout.isTTY, stats: false },
    mini: {
      lessLoaderOption: lessOptions,
      compile: { include: compileInclude },
      postcss: {
        pxtransform: { enable: true, config: {} },
        [weuiPlugin]: { enable: true, config: { target: 'weapp' } },
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
      lessLoaderOption: lessOptions,
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
        [weuiPlugin]: { enable: true, config: { target: 'h5' } },
        cssModules: { enable: false, config: { namingPattern: 'module', generateScopedName: '[name]__[local]___[hash:base64:5]' } },
      },
    },
  };
});
