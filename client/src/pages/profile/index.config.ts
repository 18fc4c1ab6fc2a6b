export default definePageConfig({
  navigationBarTitleText: 'Edit profile',
  navigationBarBackgroundColor: '#ffffff',
  backgroundColor: '#ffffff',
});
