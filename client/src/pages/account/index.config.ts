export default definePageConfig({
  navigationBarTitleText: 'Account',
  navigationBarBackgroundColor: '#ffffff',
  backgroundColor: '#ffffff',
});
