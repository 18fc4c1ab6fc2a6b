export default defineAppConfig({
  pages: ['pages/index/index'],
  window: {
    backgroundTextStyle: 'light',
    navigationBarBackgroundColor: '#ffffff',
    navigationBarTitleText: 'wxkit',
    navigationBarTextStyle: 'black',
  },
  networkTimeout: { request: 15000 },
});
