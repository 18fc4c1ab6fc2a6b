export default defineAppConfig({
  pages: ['pages/index/index', 'pages/account/index', 'pages/profile/index'],
  window: {
    backgroundTextStyle: 'light',
    // WeUI's page grey, so the navigation bar and the page are one surface, as in WeChat's own pages.
    navigationBarBackgroundColor: '#ededed',
    backgroundColor: '#ededed',
    navigationBarTitleText: 'wxkit',
    navigationBarTextStyle: 'black',
  },
  // WeChat's current component styles (the WeUI look for native buttons, inputs…).
  style: 'v2',
  networkTimeout: { request: 15000, uploadFile: 30000 },
});
